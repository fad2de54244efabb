"""Portkey's loopback preload: every form of ``server.listen`` binds 127.0.0.1, never every
interface; a pipe path is left alone. Runs the module under the ``node`` on PATH."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from stack.peers import portkey


LISTEN_FORMS = """
import http from "node:http";
import net from "node:net";

const pipe = process.argv[2];
const forms = {
  "port, undefined host, callback": (s, cb) => s.listen(0, undefined, cb),
  "port, callback": (s, cb) => s.listen(0, cb),
  "port as a string, callback": (s, cb) => s.listen("0", cb),
  "port, backlog, callback": (s, cb) => s.listen(0, 511, cb),
  "port, 0.0.0.0, callback": (s, cb) => s.listen(0, "0.0.0.0", cb),
  "port, ::, backlog, callback": (s, cb) => s.listen(0, "::", 511, cb),
  "port, empty host": (s, cb) => { s.once("listening", cb); s.listen(0, ""); },
  "callback only": (s, cb) => s.listen(cb),
  "no arguments": (s, cb) => { s.once("listening", cb); s.listen(); },
  "{port}, callback": (s, cb) => s.listen({ port: 0 }, cb),
  "{port as a string}": (s, cb) => { s.once("listening", cb); s.listen({ port: "0" }); },
  "{port, host: 0.0.0.0, backlog}, callback": (s, cb) =>
    s.listen({ port: 0, host: "0.0.0.0", backlog: 16 }, cb),
  "{port, host: ::}, callback": (s, cb) => s.listen({ port: 0, host: "::" }, cb),
  "port, ::1, callback": (s, cb) => s.listen(0, "::1", cb),
  "pipe path, callback": (s, cb) => s.listen(pipe, cb),
  "{path}, callback": (s, cb) => s.listen({ path: pipe + "2" }, cb),
};
const bound = {};
for (const [form, listen] of Object.entries(forms)) {
  for (const [kind, server] of [["net", net.createServer()], ["http", http.createServer()]]) {
    const name = `${kind}: ${form}`;
    const listening = await new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), 2000);
      server.once("error", (error) => { clearTimeout(timer); resolve(String(error)); });
      listen(server, () => { clearTimeout(timer); resolve(true); });
    });
    const address = server.address();
    if (listening !== true) {
      bound[name] = listening || `no callback (listening on ${JSON.stringify(address)})`;
    } else {
      bound[name] = typeof address === "string" ? address : address.address;
    }
    if (server.listening) await new Promise((resolve) => server.close(resolve));
  }
}
console.log(JSON.stringify(bound));
"""


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not on PATH")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True)
    found = re.match(r"v(\d+)\.(\d+)", version.stdout)
    if found is None or (int(found[1]), int(found[2])) < portkey.MIN_NODE:
        pytest.skip(f"node {version.stdout.strip()} cannot preload a module")
    return node


def test_every_listen_form_binds_the_loopback_address_only(tmp_path: Path) -> None:
    node = _node()
    preload = tmp_path / portkey.LOOPBACK_FILE
    preload.write_text(portkey.LOOPBACK_MODULE)
    script = tmp_path / "forms.mjs"
    script.write_text(LISTEN_FORMS)
    pipe = tmp_path / "pipe.sock"
    done = subprocess.run(
        [node, "--import", str(preload), str(script), str(pipe)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    bound = json.loads(done.stdout)
    expected = {
        name: str(pipe) + ("2" if "{path}" in name else "") if "path" in name
        else "::1" if "::1" in name
        else "127.0.0.1"
        for name in bound
    }  # fmt: skip
    assert bound == expected
    assert len(bound) == 32  # 16 forms, on a net and an http server
