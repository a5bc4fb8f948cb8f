"""The proxies part of the REST API. Every lookup is scoped to the requesting user: others' objects 404."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

import providers
from proxies import services
from proxies.failures_schema import FailureConfigSerializer
from proxies.models import Proxy
from proxies.serializers import ProviderSerializer, ProxySerializer, StopSerializer
from rubberduck_site.openapi import DeletedSerializer, errors


def owned_proxy(request, pk) -> Proxy:
    return get_object_or_404(Proxy, pk=pk, owner=request.user)


class ProviderListApi(APIView):
    @extend_schema(
        operation_id="providers_list",
        summary="The providers a proxy can speak for",
        responses={200: ProviderSerializer(many=True), **errors(401)},
    )
    def get(self, request):
        return Response(
            [
                {
                    "id": p.id,
                    "name": p.name,
                    "default_upstream_url": p.default_upstream_url,
                    "coverage": p.coverage(),
                }
                for p in providers.registry().values()
            ]
        )


class ProxyListApi(APIView):
    @extend_schema(
        operation_id="proxies_list",
        summary="Your proxies",
        parameters=[
            OpenApiParameter("status", enum=Proxy.Status.values, description="Only proxies in this status."),
            OpenApiParameter(
                "provider", enum=sorted(providers.registry()), description="Only proxies of this provider."
            ),
            OpenApiParameter("tag", description="Only proxies with this tag."),
        ],
        responses={200: ProxySerializer(many=True), **errors(400, 401)},
    )
    def get(self, request):
        proxies = Proxy.objects.filter(owner=request.user)
        for param, choices in (("status", Proxy.Status.values), ("provider", providers.registry())):
            value = request.query_params.get(param)
            if value and value not in choices:
                raise ValidationError({param: [f"Choose one of: {', '.join(sorted(choices))}."]})
            if value:
                proxies = proxies.filter(**{param: value})
        tag = request.query_params.get("tag")
        result = [p for p in proxies if not tag or tag in (p.tags or [])]
        return Response(ProxySerializer(result, many=True).data)

    @extend_schema(
        summary="Create a proxy (and start it)",
        description="`port` omitted or null: a free port is assigned. A port another proxy uses: 400.",
        request=ProxySerializer,
        responses={201: ProxySerializer, **errors(400, 401, 403)},
    )
    def post(self, request):
        serializer = ProxySerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        try:
            proxy = services.proxy_create(owner=request.user, **serializer.validated_data)
        except services.NoFreePort as e:
            return Response({"port": [str(e)]}, status=status.HTTP_400_BAD_REQUEST)
        return Response(ProxySerializer(proxy).data, status=status.HTTP_201_CREATED)


class ProxyDetailApi(APIView):
    @extend_schema(summary="A proxy", responses={200: ProxySerializer, **errors(401, 404)})
    def get(self, request, pk):
        return Response(ProxySerializer(owned_proxy(request, pk)).data)

    @extend_schema(
        summary="Change a proxy",
        description="A running proxy serves the new settings at once (a new port restarts it).",
        request=ProxySerializer,
        responses={200: ProxySerializer, **errors(400, 401, 403, 404)},
    )
    def patch(self, request, pk):
        proxy = owned_proxy(request, pk)
        serializer = ProxySerializer(proxy, data=request.data, partial=True, context={"request": request})
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        if "port" in fields and fields["port"] is None:
            fields.pop("port")
        proxy = services.proxy_update(proxy=proxy, **fields)
        return Response(ProxySerializer(proxy).data)

    @extend_schema(
        summary="Delete a proxy",
        description="It stops serving; its cache and its log entries go with it.",
        responses={204: None, **errors(401, 403, 404)},
    )
    def delete(self, request, pk):
        services.proxy_delete(proxy=owned_proxy(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProxyStartApi(APIView):
    @extend_schema(
        operation_id="proxies_start",
        summary="Start a proxy",
        description="Answers once `status` is `running` or `error` (then `last_error` says why).",
        request=None,
        responses={200: ProxySerializer, **errors(401, 403, 404)},
    )
    def post(self, request, pk):
        proxy = services.proxy_start(proxy=owned_proxy(request, pk))
        return Response(ProxySerializer(proxy).data)


class ProxyStopApi(APIView):
    @extend_schema(
        operation_id="proxies_stop",
        summary="Stop a proxy",
        description="`graceful` (the default) lets requests in flight finish; `force` cuts them.",
        request=StopSerializer,
        responses={200: ProxySerializer, **errors(400, 401, 403, 404)},
    )
    def post(self, request, pk):
        proxy = owned_proxy(request, pk)
        serializer = StopSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        proxy = services.proxy_stop(proxy=proxy, mode=serializer.validated_data["mode"])
        return Response(ProxySerializer(proxy).data)


class ProxyCacheApi(APIView):
    @extend_schema(
        operation_id="proxies_cache_clear",
        summary="Empty a proxy's cache",
        responses={200: DeletedSerializer, **errors(401, 403, 404)},
    )
    def delete(self, request, pk):
        deleted = services.proxy_cache_clear(proxy=owned_proxy(request, pk))
        return Response({"deleted": deleted})


class ProxyFailuresApi(APIView):
    @extend_schema(
        summary="A proxy's failure config",
        responses={200: FailureConfigSerializer, **errors(401, 404)},
    )
    def get(self, request, pk):
        return Response(owned_proxy(request, pk).failures or {})

    @extend_schema(
        summary="Replace a proxy's failure config",
        description="Every part is optional; an absent part is off, `{}` turns every failure off. Unknown keys "
        "are refused. See docs/failures.md.",
        request=FailureConfigSerializer,
        responses={200: FailureConfigSerializer, **errors(400, 401, 403, 404)},
    )
    def put(self, request, pk):
        proxy = owned_proxy(request, pk)
        serializer = FailureConfigSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        proxy = services.proxy_failures_set(proxy=proxy, config=serializer.to_config())
        return Response(proxy.failures)
