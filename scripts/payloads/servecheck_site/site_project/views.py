from django.dispatch import Signal
from django.http import HttpResponse

pinged = Signal()


def sync_view(request):
    return HttpResponse("sync view")


async def async_view(request):
    return HttpResponse("async view")


class AsyncCallView:
    async def __call__(self, request):
        return HttpResponse("object view")


class AsyncCallReceiver:
    async def __call__(self, sender, **kwargs):
        return "received"


receiver = AsyncCallReceiver()
pinged.connect(receiver)


def received(responses):
    return ",".join(str(response) for _, response in responses)


def signal_view(request):
    return HttpResponse(received(pinged.send(sender=None)))


async def asignal_view(request):
    return HttpResponse(received(await pinged.asend(sender=None)))
