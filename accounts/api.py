"""The account part of the REST API: the signed-in user, their API tokens, and the global settings."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.models import SiteSettings
from accounts.ratelimits import check_limit
from accounts.serializers import MeSerializer, SiteSettingsSerializer, TokenCreatedSerializer, TokenSerializer
from restapi.openapi import RETRY_AFTER, errors


class MeApi(APIView):
    @extend_schema(summary="The signed-in user", responses={200: MeSerializer, **errors(401)})
    def get(self, request):
        return Response(MeSerializer(request.user).data)

    @extend_schema(
        summary="Change your display name",
        request=MeSerializer,
        responses={200: MeSerializer, **errors(400, 401, 403)},
    )
    def patch(self, request):
        serializer = MeSerializer(request.user, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        if "first_name" in serializer.validated_data:
            services.user_update(user=request.user, name=serializer.validated_data["first_name"])
        return Response(MeSerializer(request.user).data)


class TokenListApi(APIView):
    @extend_schema(
        operation_id="tokens_list",
        summary="Your API tokens (never their keys)",
        responses={200: TokenSerializer(many=True), **errors(401)},
    )
    def get(self, request):
        return Response(TokenSerializer(selectors.token_list(user=request.user), many=True).data)

    @extend_schema(
        summary="Create an API token",
        description="The answer's `key` is shown this once: only its hash is stored. Send it as "
        "`Authorization: Token <key>`.",
        request=TokenSerializer,
        parameters=[RETRY_AFTER],
        responses={201: TokenCreatedSerializer, **errors(400, 401, 403, 429)},
    )
    def post(self, request):
        check_limit(request, "token_create", account=str(request.user.pk))
        serializer = TokenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, key = services.token_create(user=request.user, name=serializer.validated_data.get("name", "default"))
        token.key = key
        return Response(TokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)


class TokenDetailApi(APIView):
    @extend_schema(
        summary="Revoke an API token", description="It fails at once.", responses={204: None, **errors(401, 403, 404)}
    )
    def delete(self, request, pk):
        token = selectors.token_get(user=request.user, pk=pk)
        if token is None:
            raise NotFound()
        services.token_revoke(token=token)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SiteSettingsApi(APIView):
    @extend_schema(
        summary="The global settings",
        description="Readable by every user; `editable` says whether you may change them (staff only).",
        responses={200: SiteSettingsSerializer, **errors(401)},
    )
    def get(self, request):
        return Response(SiteSettingsSerializer(SiteSettings.current(), context={"request": request}).data)

    @extend_schema(
        summary="Change the global settings (staff only)",
        request=SiteSettingsSerializer,
        responses={200: SiteSettingsSerializer, **errors(400, 401, 403)},
    )
    def put(self, request):
        if not request.user.is_staff:
            raise PermissionDenied("Only staff can change the global settings.")
        serializer = SiteSettingsSerializer(SiteSettings.current(), data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        site = services.site_settings_update(data=serializer.validated_data)
        return Response(SiteSettingsSerializer(site, context={"request": request}).data)
