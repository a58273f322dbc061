"""The live admin dashboard: each instance's figures on ``admin:dashboard``, about once a second."""
