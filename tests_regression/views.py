from django.http import HttpResponse


def sync_view(request):
    return HttpResponse("sync view")


async def async_view(request):
    return HttpResponse("async view")
