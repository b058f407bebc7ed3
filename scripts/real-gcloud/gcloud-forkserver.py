"""Runs the installed gcloud's own main() for each call, forked from one warm process.

The real gcloud spends most of a call importing itself (2-3 s on a busy
machine). This server imports it once, then for every call forks a child
that takes the caller's argv, environment, working directory and stdin,
stdout and stderr (passed over a Unix socket) and runs gcloud_main.main()
exactly as bin/gcloud would: the same flag parsing, properties, HTTP and
output. The child starts from the parent's untouched state, so calls do not
share anything but the imported code. Used by scripts/real-gcloud.test.ts and
test/bq-fake.test.ts (bq runs gcloud for its configuration and token).

Usage: python3 gcloud-forkserver.py SDK_ROOT SOCKET_PATH
"""
import importlib
import json
import os
import socket
import sys
import threading

SDK, SOCKET_PATH = sys.argv[1], sys.argv[2]
LIB = os.path.join(SDK, 'lib')
sys.path.insert(0, LIB)
sys.path.insert(0, os.path.join(LIB, 'third_party'))
import gcloud  # noqa: E402  lib/gcloud.py: the same sys.path fixes bin/gcloud applies

gcloud._fix_google_module()
from googlecloudsdk import gcloud_main  # noqa: E402

CLI = gcloud_main.CreateCLI([])
# Modules nearly every call imports; loading them here is what makes a call fast.
PRELOAD = ['googlecloudsdk.api_lib.util.apis', 'googlecloudsdk.core.credentials.requests',
           'googlecloudsdk.core.resources', 'apitools.base.py', 'googlecloudsdk.api_lib.util.waiter',
           'googlecloudsdk.command_lib.util.apis.arg_utils', 'googlecloudsdk.core.resource.resource_printer',
           'googlecloudsdk.command_lib.iam.iam_util']
APIS = [('cloudtasks', 'v2'), ('firestore', 'v1'), ('run', 'v1'), ('run', 'v2'), ('iam', 'v1'),
        ('secretmanager', 'v1'), ('cloudscheduler', 'v1'), ('cloudfunctions', 'v2'), ('serviceusage', 'v1'),
        ('cloudresourcemanager', 'v1'), ('artifactregistry', 'v1'), ('logging', 'v2')]
for module in PRELOAD + ['googlecloudsdk.generated_clients.apis.%s.%s.%s_%s_%s' % (a, v, a, v, kind)
                         for a, v in APIS for kind in ('messages', 'client')]:
  try:
    importlib.import_module(module)
  except Exception as error:  # pylint: disable=broad-except
    sys.stderr.write('preload of %s failed (calls import it themselves): %s\n' % (module, error))

# The command groups the operator scripts use, loaded (and their flags built) once.
COMMANDS = ['services list', 'services enable', 'projects describe', 'projects get-iam-policy',
            'projects add-iam-policy-binding', 'projects remove-iam-policy-binding',
            'firestore databases describe', 'firestore databases create', 'firestore fields ttls list',
            'firestore fields ttls update', 'firestore indexes composite list', 'firestore indexes composite create',
            'tasks queues describe', 'tasks queues create', 'tasks queues list', 'tasks queues delete', 'tasks list',
            'tasks queues get-iam-policy', 'tasks queues add-iam-policy-binding',
            'iam service-accounts list', 'iam service-accounts create', 'iam service-accounts delete',
            'iam service-accounts get-iam-policy', 'iam service-accounts add-iam-policy-binding',
            'secrets list', 'secrets create', 'secrets delete', 'secrets versions add', 'secrets versions access',
            'secrets get-iam-policy', 'secrets add-iam-policy-binding',
            'scheduler jobs describe', 'scheduler jobs create http', 'scheduler jobs update http',
            'scheduler jobs list', 'scheduler jobs delete',
            'functions deploy', 'functions describe', 'functions list', 'functions delete',
            'functions add-invoker-policy-binding', 'functions logs read',
            'run services list', 'run services delete', 'artifacts repositories describe',
            'artifacts repositories delete']
for command in COMMANDS:
  try:
    CLI._TopElement().LoadSubElementByPath(command.split())
  except Exception as error:  # pylint: disable=broad-except
    sys.stderr.write('preload of "gcloud %s" failed (calls load it themselves): %s\n' % (command, error))


def run_child(request, fds, conn):
  for target, fd in enumerate(fds):
    os.dup2(fd, target)
    os.close(fd)
  os.environ.clear()
  os.environ.update(request['env'])
  os.chdir(request['cwd'])
  sys.argv = ['gcloud'] + request['argv']
  code = 0
  try:
    gcloud_main.main(gcloud_cli=CLI)
  except SystemExit as done:
    code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
  except BaseException:  # pylint: disable=broad-except
    import traceback
    traceback.print_exc()
    code = 1
  for stream in (sys.stdout, sys.stderr):
    try:
      stream.flush()
    except Exception:  # pylint: disable=broad-except
      pass
  conn.sendall(str(code).encode())
  conn.close()
  os._exit(code)


def exit_with_parent():
  # The test holds our stdin open; when it ends (even killed), so do we. A raw
  # read of a duplicate: no Python lock a forked child could inherit held.
  watched = os.dup(0)
  while os.read(watched, 4096):
    pass
  os._exit(0)


def main():
  threading.Thread(target=exit_with_parent, daemon=True).start()
  server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
  server.bind(SOCKET_PATH)
  server.listen(32)
  sys.stdout.write('ready\n')
  sys.stdout.flush()
  while True:
    conn, _ = server.accept()
    message, fds, _, _ = socket.recv_fds(conn, 1 << 22, 3)
    if os.fork() == 0:
      server.close()
      run_child(json.loads(message), fds, conn)
    for fd in fds:
      os.close(fd)
    conn.close()
    try:
      while os.waitpid(-1, os.WNOHANG)[0]:
        pass
    except ChildProcessError:
      pass


main()
