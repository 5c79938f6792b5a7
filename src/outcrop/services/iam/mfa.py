"""IAM's virtual MFA devices: create one (a real TOTP seed), enable it for a user with two consecutive
codes, list, resync, deactivate, delete and tag. STS then checks their codes (`Sts`).

CreateVirtualMFADevice answers the Base32 seed and, as AWS does, a QRCodePNG of the `otpauth://` URL
authenticator apps scan, drawn by OpenCV's QR encoder. OpenCV comes with the vision extra; without it the
answer carries the seed only (apps take it typed in; the model leaves QRCodePNG optional), as Outcrop
writes no QR encoder of its own.
"""

from __future__ import annotations

from typing import Any

from outcrop.iam.errors import InvalidInput, NoSuchEntity
from outcrop.iam.mfa import qr_png
from outcrop.iam.store import IamStore
from outcrop.iam.store_account import MFA_ROOT
from outcrop.protocol.errors import ServiceError
from outcrop.services.base import RequestContext
from outcrop.services.iam import shapes, tagging

Params = dict[str, Any]
Output = dict[str, Any]


class InvalidAuthenticationCode(ServiceError, service="iam"): ...


class MfaOperations:
    store: IamStore

    def _caller_user(self, ctx: RequestContext, params: Params) -> str:
        """The user named, or the caller itself (a user, or the account root) when none is."""
        if params.get("UserName"):
            return str(params["UserName"])
        record = self.store.resolve(ctx.access_key)
        if record is None or record.principal.kind == "root":
            return MFA_ROOT
        if record.principal.kind != "user":
            raise InvalidInput("Must specify a userName when calling with non-User credentials")
        return record.principal.name

    def _device(self, ctx: RequestContext, row: dict[str, Any], *, listed: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"SerialNumber": row["name"]}
        if row["user"] is not None:
            out["EnableDate"] = shapes.when(row["enabled"])
            if row["user"] == MFA_ROOT:
                root = f"arn:aws:iam::{ctx.account_id}:root"
                out["User"] = {"UserId": ctx.account_id, "Arn": root, "Path": "/", "UserName": ""}
                out["User"]["CreateDate"] = shapes.when(row["created"])
            else:
                out["User"] = shapes.user(self.store.get("user", row["user"]))
        if not listed:
            tags = self.store.tags("mfa", row["name"])
            if tags:
                out["Tags"] = shapes.tag_list(tags)
        return out

    def create_virtual_mfa_device(self, ctx: RequestContext, params: Params) -> Output:
        path = params.get("Path") or "/"
        row = self.store.create_mfa(params["VirtualMFADeviceName"], path)
        if params.get("Tags"):
            self.store.tag("mfa", row["name"], params["Tags"])
        device: dict[str, Any] = {
            "SerialNumber": row["name"],
            "Base32StringSeed": row["seed"].encode(),
        }
        png = qr_png(row["device"], ctx.account_id, row["seed"])
        if png is not None:
            device["QRCodePNG"] = png
        if params.get("Tags"):
            device["Tags"] = params["Tags"]
        return {"VirtualMFADevice": device}

    def enable_mfa_device(self, ctx: RequestContext, params: Params) -> Output:
        user, serial = params["UserName"], params["SerialNumber"]
        if not self.store.enable_mfa(
            user, serial, params["AuthenticationCode1"], params["AuthenticationCode2"]
        ):
            raise InvalidAuthenticationCode("Authentication code for device is not valid.")
        return {}

    def resync_mfa_device(self, ctx: RequestContext, params: Params) -> Output:
        user, serial = params["UserName"], params["SerialNumber"]
        if not self.store.resync_mfa(
            user, serial, params["AuthenticationCode1"], params["AuthenticationCode2"]
        ):
            raise InvalidAuthenticationCode("Authentication code for device is not valid.")
        return {}

    def deactivate_mfa_device(self, ctx: RequestContext, params: Params) -> Output:
        self.store.deactivate_mfa(self._caller_user(ctx, params), params["SerialNumber"])
        return {}

    def delete_virtual_mfa_device(self, ctx: RequestContext, params: Params) -> Output:
        self.store.delete_mfa(params["SerialNumber"])
        return {}

    def list_mfa_devices(self, ctx: RequestContext, params: Params) -> Output:
        user = self._caller_user(ctx, params)
        rows = self.store.mfa_devices(user)
        devices = [
            {
                "UserName": user if user != MFA_ROOT else ctx.account_id,
                "SerialNumber": row["name"],
                "EnableDate": shapes.when(row["enabled"]),
            }
            for row in rows
        ]
        return shapes.page(devices, params, "MFADevices")

    def list_virtual_mfa_devices(self, ctx: RequestContext, params: Params) -> Output:
        status = params.get("AssignmentStatus") or "Any"
        assigned = {"Assigned": True, "Unassigned": False}.get(status)
        rows = self.store.mfa_devices(assigned=assigned)
        devices = [self._device(ctx, row, listed=True) for row in rows]
        return shapes.page(devices, params, "VirtualMFADevices")

    def get_mfa_device(self, ctx: RequestContext, params: Params) -> Output:
        serial = params["SerialNumber"]
        row = self.store.mfa_device(serial)
        user = params.get("UserName")
        if row["user"] is None or (user and row["user"] != user):
            raise NoSuchEntity(f"MFA Device with serial number {serial} does not exist.")
        out: Output = {"SerialNumber": serial, "EnableDate": shapes.when(row["enabled"])}
        if row["user"] != MFA_ROOT:
            out["UserName"] = row["user"]
        return out

    def tag_mfa_device(self, ctx: RequestContext, params: Params) -> Output:
        return tagging.tag(self.store, "mfa", params["SerialNumber"], params)

    def untag_mfa_device(self, ctx: RequestContext, params: Params) -> Output:
        return tagging.untag(self.store, "mfa", params["SerialNumber"], params)

    def list_mfa_device_tags(self, ctx: RequestContext, params: Params) -> Output:
        return tagging.listed(self.store, "mfa", params["SerialNumber"], params)
