"""Print the demo staff login's current authenticator code, for trying the back office without a phone."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.second_factor import DEMO_TOTP_SECRET, current_code


class Command(BaseCommand):
    help = "Print the current two-factor code of the demo staff login (seed_demo's authenticator)."

    def handle(self, *args, **options):
        if settings.PRODUCTION:
            raise CommandError("The demo authenticator's secret is published; this refuses to run in production.")
        self.stdout.write(current_code(DEMO_TOTP_SECRET))
