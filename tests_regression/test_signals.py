import django
from django.dispatch import Signal
from django.test import SimpleTestCase

from .async_call_support import AsyncCallReceiver

receivers_may_be_async = django.VERSION >= (5, 0)


def sync_receiver(sender, **kwargs):
    return "sync"


class AsyncCallReceiverTests(SimpleTestCase):
    def setUp(self):
        if not receivers_may_be_async:
            self.skipTest("signals have async receivers since Django 5.0")
        self.signal = Signal()
        self.receiver = AsyncCallReceiver()
        self.signal.connect(sync_receiver)
        self.signal.connect(self.receiver)

    def test_send_awaits_async_call_receiver(self):
        """send() awaits an object with an async __call__()."""
        self.assertEqual(
            self.signal.send(sender=None),
            [(sync_receiver, "sync"), (self.receiver, "received")],
        )

    async def test_asend_awaits_async_call_receiver(self):
        """asend() awaits an object with an async __call__()."""
        self.assertEqual(
            await self.signal.asend(sender=None),
            [(sync_receiver, "sync"), (self.receiver, "received")],
        )
