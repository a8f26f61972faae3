"""Process mode: gunicorn, its worker, and the answers it writes itself."""
