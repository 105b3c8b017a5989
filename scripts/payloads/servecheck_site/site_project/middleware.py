class AsyncCallMiddleware:
    """An async class middleware as users write it: async __call__(), async-only
    flags, no markcoroutinefunction()."""

    sync_capable = False
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response

    async def __call__(self, request):
        response = await self.get_response(request)
        response["X-Async-Call"] = "called"
        return response
