"""Chat with your documents: conversations, and answers drawn from the user's own passages."""
