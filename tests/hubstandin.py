"""A loopback stand-in for the few Hugging Face Hub endpoints an upload uses (create a repository,
preupload, commit), recording what arrives. It is not the Hub: it answers what huggingface_hub
needs to go on and checks nothing else."""
import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class HubStandIn(ThreadingHTTPServer):
    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.repos: list[dict] = []
        self.files: dict[str, bytes] = {}
        self.authorization: set[str] = set()
        self.paths: list[str] = []
        self.validated: list[str] = []   # README texts huggingface_hub asked to validate

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> "HubStandIn":
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def reply(self, data: dict, status: int = 200) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        hub = self.server
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        hub.paths.append(self.path)
        hub.authorization.add(self.headers.get("Authorization", ""))
        if self.path == "/api/repos/create":
            data = json.loads(body)
            hub.repos.append(data)
            return self.reply({"url": f"{hub.url}/datasets/{data.get('organization')}/{data['name']}"})
        if self.path == "/api/validate-yaml":
            hub.validated.append(json.loads(body)["content"])
            return self.reply({"errors": [], "warnings": []})
        if "/preupload/" in self.path:
            files = json.loads(body)["files"]
            return self.reply({"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                         for f in files]})
        if "/commit/" in self.path:
            for line in body.decode().splitlines():
                item = json.loads(line)
                if item["key"] == "file":
                    hub.files[item["value"]["path"]] = base64.b64decode(item["value"]["content"])
            repo = self.path.split("/api/datasets/")[1].split("/commit/")[0]
            return self.reply({"commitUrl": f"{hub.url}/datasets/{repo}/commit/{'a' * 40}", "commitOid": "a" * 40})
        self.reply({"error": f"not in the stand-in: {self.path}"}, 404)
