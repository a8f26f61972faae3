"""Platform adapters: each turns one platform's request into :meth:`App.handle` and back."""
