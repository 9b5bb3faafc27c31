"""Media mutations, merged into the root types by api.schema."""

from __future__ import annotations

import graphene

from api.media.mutations import RedactMedia, UploadMedia


class MediaMutations(graphene.ObjectType):
    upload_media = UploadMedia.Field()
    redact_media = RedactMedia.Field()
