"""Settings, URLs, WSGI and the ``highseas`` command line."""
