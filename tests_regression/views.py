from django.http import HttpResponse


def sync_view(request):
    return HttpResponse("sync view")


async def async_view(request):
    return HttpResponse("async view")


class AsyncCallView:
    """A view that is an object with an async __call__(), not marked."""

    async def __call__(self, request):
        return HttpResponse("object view")
