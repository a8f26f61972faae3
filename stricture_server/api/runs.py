"""The run endpoints: a stored run (or ``latest``), the listings of names and runs, the change
feeds."""

from __future__ import annotations

from werkzeug import Request, Response

from ..access.enforce import may_read
from ..access.grants import READ, Target
from ..http_errors import json_response
from ..runstore.records import LATEST, identity_from_path
from ..runstore.runs import RunStore
from .read_views import ReadViews
from .requests import Fields, answer_query, caller, no_query

IMMUTABLE_MAX_AGE = 31536000
"""One year, in seconds: how long a run read by id may be cached."""


class RunEndpoints:
    """Reads of runs: each listing shows only what the caller may read."""

    def __init__(self, reads: RunStore, views: ReadViews, private: bool) -> None:
        self.reads = reads
        self.views = views
        self.private = private
        """Caches may keep an answer for one caller only (auth on), not share it."""

    def read_run(
        self,
        request: Request,
        fields: Fields,
        organization: str,
        project: str,
        service: str,
        run_id: str,
    ) -> Response:
        """``GET /v1/artifacts/{org}/{project}/{service}/{run_id}``: the stored record."""
        no_query(request)
        identity = identity_from_path(organization, project, service, run_id)
        latest = identity.run_id == LATEST
        stored = self.views.queries.latest(identity) if latest else self.reads.read_record(identity)
        response = Response(stored.data, 200, mimetype="application/json")
        if latest:
            response.headers["Content-Location"] = stored.identity.location
        # A record never changes, so its digest is a strong validator and a run by id may be
        # cached for good; ``latest`` names another run as soon as one arrives.
        response.set_etag(stored.digest)
        cache = response.cache_control
        if self.private:
            cache.private = True
        else:
            cache.public = True
        if latest:
            cache.no_cache = True
        else:
            cache.max_age = IMMUTABLE_MAX_AGE
            cache.immutable = True
        response.make_conditional(request)
        if response.status_code == 304:
            # Only the WSGI path drops a 304's body; the function runtimes send get_data().
            response.set_data(b"")
            del response.headers["Content-Length"]
        return response

    def organizations(self, request: Request, fields: Fields) -> Response:
        """``GET /v1/artifacts``: the organizations the caller may read something of."""
        grants = caller(request).grants
        answer = self.views.listings.organizations(request.args.to_dict(flat=False))
        answer["organizations"] = [
            o for o in answer["organizations"] if grants.touches(READ, Target(o["organization"]))
        ]
        return json_response(200, answer)

    def projects(self, request: Request, fields: Fields, organization: str) -> Response:
        """``GET /v1/artifacts/{org}``: the organization's projects the caller may read."""
        grants = caller(request).grants
        answer = self.views.listings.projects_of(organization, request.args.to_dict(flat=False))
        org = answer["organization"]
        answer["projects"] = [
            p for p in answer["projects"] if grants.touches(READ, Target(org, p["project"]))
        ]
        return json_response(200, answer)

    def services(
        self, request: Request, fields: Fields, organization: str, project: str
    ) -> Response:
        """``GET /v1/artifacts/{org}/{project}``: the project's services the caller may read,
        each with its latest run."""
        who = caller(request)
        args = request.args.to_dict(flat=False)
        answer = self.views.listings.services_of(organization, project, args)
        org, proj = answer["organization"], answer["project"]
        answer["services"] = [
            s for s in answer["services"] if may_read(who, org, proj, s["service"])
        ]
        return json_response(200, answer)

    def runs_of(self, request: Request, fields: Fields, **names: str) -> Response:
        """``GET /v1/artifacts/{org}/{project}/{service}``: run summaries, newest first."""
        return answer_query(request, lambda a: self.views.queries.runs_of(**names, args=a))

    def changes_of(self, request: Request, fields: Fields, **names: str) -> Response:
        """``GET /v1/changes/{org}/{project}/{service}``: the change feed, newest first."""
        return answer_query(request, lambda a: self.views.queries.changes_of(**names, args=a))

    def org_changes(self, request: Request, fields: Fields, organization: str) -> Response:
        """``GET /v1/changes/{org}``: every service's change feed of the org, newest first."""
        from ..reads.org_changes import OrgChanges

        who = caller(request)
        changes = OrgChanges(self.views.queries, self.views.listings)
        visible = lambda ref: may_read(who, ref.organization, ref.project, ref.service)  # noqa: E731
        return answer_query(request, lambda a: changes.changes_of(organization, a, visible))
