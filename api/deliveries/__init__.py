"""Deliveries outside the app (admins' view) and the viewer's WeChat binding."""
