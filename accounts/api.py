"""The account part of the REST API: the signed-in user, their API tokens, and the global settings."""

from rest_framework import status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.models import SiteSettings
from accounts.ratelimits import check_limit
from accounts.serializers import MeSerializer, SiteSettingsSerializer, TokenCreatedSerializer, TokenSerializer


class MeApi(APIView):
    def get(self, request):
        return Response(MeSerializer(request.user).data)

    def patch(self, request):
        serializer = MeSerializer(request.user, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        if "first_name" in serializer.validated_data:
            services.user_update(user=request.user, name=serializer.validated_data["first_name"])
        return Response(MeSerializer(request.user).data)


class TokenListApi(APIView):
    def get(self, request):
        return Response(TokenSerializer(selectors.token_list(user=request.user), many=True).data)

    def post(self, request):
        check_limit(request, "token_create", account=str(request.user.pk))
        serializer = TokenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        token, key = services.token_create(user=request.user, name=serializer.validated_data.get("name", "default"))
        token.key = key
        return Response(TokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)


class TokenDetailApi(APIView):
    def delete(self, request, pk):
        token = selectors.token_get(user=request.user, pk=pk)
        if token is None:
            raise NotFound()
        services.token_revoke(token=token)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SiteSettingsApi(APIView):
    def get(self, request):
        return Response(SiteSettingsSerializer(SiteSettings.current(), context={"request": request}).data)

    def put(self, request):
        if not request.user.is_staff:
            raise PermissionDenied("Only staff can change the global settings.")
        serializer = SiteSettingsSerializer(SiteSettings.current(), data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        site = services.site_settings_update(data=serializer.validated_data)
        return Response(SiteSettingsSerializer(site, context={"request": request}).data)
