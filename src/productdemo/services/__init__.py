"""The domain. Services publish through ``realtime.publisher.Publisher`` and never touch sockets."""
