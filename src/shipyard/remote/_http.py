"""HTTP transport to ``shipyard server``: one place where httpx errors are translated."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from shipyard.errors import ShipyardError, StorageError, Unavailable, error_from_name

__all__ = ["HttpTransport"]


class HttpTransport:
    """JSON requests against a Shipyard server; error bodies become Shipyard errors."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 30.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, *, json: Any = None, **kwargs: Any) -> httpx.Response:
        """Send a request; raise the Shipyard error the server reported, if any."""
        if json is not None:
            kwargs["content"] = orjson.dumps(json)
            kwargs.setdefault("headers", {})["Content-Type"] = "application/json"
        try:
            response = self._http.request(method, path, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError) as exc:
            raise Unavailable(f"shipyard server at {self.url} unreachable: {exc}", url=self.url) from exc
        except httpx.TimeoutException as exc:
            raise Unavailable(f"shipyard server at {self.url} timed out: {exc}", url=self.url) from exc
        except httpx.HTTPError as exc:
            raise StorageError(f"request to {self.url} failed: {exc}", url=self.url) from exc
        if response.status_code >= 400:
            raise _error_from(response)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return orjson.loads(self.request(method, path, **kwargs).content)


def _error_from(response: httpx.Response) -> ShipyardError:
    try:
        body = orjson.loads(response.content)["error"]
        context = {k: v for k, v in body.items() if k not in ("type", "message")}
        return error_from_name(body["type"], body["message"], status=response.status_code, **context)
    except (orjson.JSONDecodeError, KeyError, TypeError):
        if response.status_code >= 500:
            return Unavailable(f"server answered {response.status_code}", status=response.status_code)
        return ShipyardError(f"server answered {response.status_code}: {response.text[:200]}",
                             status=response.status_code)
