"""The lineage endpoints: a run's blast radius, the organization's graph, escalation, and the
system registry."""

from __future__ import annotations

from werkzeug import Request, Response

from ..blast.answers import GraphAnswers, organization_of
from ..blast.derive import RunLineage
from ..blast.registry_store import RegistryStore
from ..http_errors import json_response
from ..ingest.body import read_body
from ..runstore.records import LATEST, identity_from_path
from .read_views import ReadViews
from .requests import Fields, answer_query, no_query


class LineageEndpoints:
    """Answers from the lineage the ingests derived, and the registry that names systems."""

    def __init__(
        self,
        lineage: RunLineage,
        graphs: GraphAnswers,
        registries: RegistryStore,
        views: ReadViews,
        max_body_bytes: int,
        max_json_values: int,
    ) -> None:
        self.lineage = lineage
        self.graphs = graphs
        self.registries = registries
        self.views = views
        self.max_body_bytes = max_body_bytes
        self.max_json_values = max_json_values

    def blast_radius(
        self,
        request: Request,
        fields: Fields,
        organization: str,
        project: str,
        service: str,
        run_id: str,
    ) -> Response:
        """``GET /v1/blast-radius/{org}/{project}/{service}/{run_id}``: the run's impact."""
        no_query(request)
        identity = identity_from_path(organization, project, service, run_id)
        if identity.run_id == LATEST:
            identity = self.views.queries.latest(identity).identity
        return Response(self.lineage.blast_radius(identity), 200, mimetype="application/json")

    def graph(self, request: Request, fields: Fields, organization: str) -> Response:
        """``GET /v1/graph/{org}``: the org's lineage graph, or one system's neighbourhood."""
        form, answer = self.graphs.graph(organization, request.args.to_dict(flat=False))
        if form == "dot":
            return Response(answer, 200, mimetype="text/vnd.graphviz")
        return json_response(200, answer)

    def escalation(
        self, request: Request, fields: Fields, organization: str, system: str
    ) -> Response:
        """``GET /v1/escalation/{org}/{system}``: who to call, closest upstream first."""
        return answer_query(request, lambda a: self.graphs.escalation(organization, system, a))

    def registry(self, request: Request, fields: Fields, organization: str) -> Response:
        """``POST /v1/registry/{org}`` stores a new registry version; ``GET`` the latest."""
        no_query(request)
        org = organization_of(organization)
        if request.method == "GET":
            found = self.registries.require(org)
        else:
            from ..blast.documents import parse_registry_body

            body = read_body(
                request.stream,
                content_length=request.content_length,
                encoding=request.headers.get("Content-Encoding", ""),
                limit=self.max_body_bytes,
            )
            document = parse_registry_body(request.mimetype, body, max_values=self.max_json_values)
            found = self.registries.add(org, document)
        answer = {
            "organization": org,
            "version": found.version,
            "created_at": found.created_at,
            "registry": found.document,
        }
        return json_response(200 if request.method == "GET" else 201, answer)
