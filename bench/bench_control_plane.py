"""Bench 3: requests/s and p99 of `list_foundation_models` under 32 concurrent clients, Outcrop vs moto.

moto's server has no ListFoundationModels, so its nearest Bedrock list call (ListCustomModels, an empty
list) stands in; STS GetCallerIdentity, which both implement, is measured on both as well. wrk drives the
load with a SigV4-signed request so neither server's client library is in the measurement.
"""

from __future__ import annotations

from common import moto_server, outcrop_server, report, signed_headers, wrk

SECONDS = 10


def main() -> None:
    with outcrop_server(fake_models=True) as outcrop:
        url = f"{outcrop.endpoint}/foundation-models"
        ours_list = wrk(url, signed_headers("GET", url, "bedrock"), seconds=SECONDS)
        sts_url = outcrop.endpoint + "/"
        body = b"Action=GetCallerIdentity&Version=2011-06-15"
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        ours_sts = wrk(
            sts_url,
            signed_headers("POST", sts_url, "sts", body, form),
            method="POST",
            body=body,
            seconds=SECONDS,
        )
    with moto_server() as endpoint:
        url = f"{endpoint}/custom-models"
        moto_list = wrk(url, signed_headers("GET", url, "bedrock"), seconds=SECONDS)
        sts_url = endpoint + "/"
        moto_sts = wrk(
            sts_url,
            signed_headers("POST", sts_url, "sts", body, form),
            method="POST",
            body=body,
            seconds=SECONDS,
        )
    report(
        "Control plane, 32 concurrent clients (wrk), same machine, same run",
        [
            ("", "Outcrop", "moto 5.2"),
            ("bedrock list (req/s)", f"{ours_list[0]:.0f}", f"{moto_list[0]:.0f}"),
            ("bedrock list p99 (ms)", f"{ours_list[1]:.1f}", f"{moto_list[1]:.1f}"),
            ("sts GetCallerIdentity (req/s)", f"{ours_sts[0]:.0f}", f"{moto_sts[0]:.0f}"),
            ("sts GetCallerIdentity p99 (ms)", f"{ours_sts[1]:.1f}", f"{moto_sts[1]:.1f}"),
        ],
    )
    print(
        f"  ratio list_foundation_models vs moto list: {ours_list[0] / moto_list[0]:.1f}x req/s"
        " (target >= 5x)"
    )
    print(f"  ratio GetCallerIdentity: {ours_sts[0] / moto_sts[0]:.1f}x req/s")


if __name__ == "__main__":
    main()
