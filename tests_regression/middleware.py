from django.http import Http404


class AsyncCallMiddleware:
    """An async-only middleware with an async __call__(), not marked."""

    sync_capable = False
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response

    async def __call__(self, request):
        response = await self.get_response(request)
        response["Async-Call-Middleware"] = "called"
        return response


class SlotsAsyncCallMiddleware:
    """__slots__ leave no room for markcoroutinefunction()'s marker."""

    __slots__ = ("get_response",)
    sync_capable = False
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response

    async def __call__(self, request):
        response = await self.get_response(request)
        response["Async-Call-Middleware"] = "called"
        return response


class AsyncCallObject:
    def __init__(self, get_response):
        self.get_response = get_response

    async def __call__(self, request):
        response = await self.get_response(request)
        response["Async-Call-Middleware"] = "called"
        return response


def async_call_object_factory(get_response):
    return AsyncCallObject(get_response)


async_call_object_factory.sync_capable = False
async_call_object_factory.async_capable = True


class RaiseValueErrorAsyncCallMiddleware(AsyncCallMiddleware):
    async def __call__(self, request):
        raise ValueError("raised by an async middleware")


class RaiseHttp404AsyncCallMiddleware(AsyncCallMiddleware):
    async def __call__(self, request):
        raise Http404("raised by an async middleware")


class UndeclaredAsyncCallMiddleware:
    """An async __call__() left with the default sync_capable/async_capable."""

    def __init__(self, get_response):
        self.get_response = get_response

    async def __call__(self, request):
        return await self.get_response(request)


class AsyncGetResponse:
    async def __call__(self, request):
        pass
