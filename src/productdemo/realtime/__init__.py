"""The WebSocket layer. It knows nothing of documents, RAG or SSH: services reach it only
through :class:`~productdemo.realtime.publisher.Publisher` and the router's registration API."""
