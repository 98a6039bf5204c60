"""Account reads: the member level a viewer's prices come from."""

from .models import MemberLevel, User


def level_of(user: User | None) -> MemberLevel | None:
    """The viewer's member level: their own, else the lowest-ranked one (everyone's, guests' too);
    None while the shop has no levels."""
    if user is not None and user.is_authenticated and user.level_id is not None:
        return user.level
    return MemberLevel.objects.order_by("rank").first()
