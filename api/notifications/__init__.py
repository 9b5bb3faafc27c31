"""The signed-in viewer's inbox: notifications, unread count, marking read."""
