"""smsgate's Python runtime component: the exports of world `smsgate:python/runtime`.

Built by `build.sh` with componentize-py: importing this module at build time loads every
module scripts may use, patches the sandbox in and warms the interpreter up; the snapshot
taken then is what each instance starts from.
"""

from smsgate_runtime import preload

preload.preload()

import wit_world  # noqa: E402
from componentize_py_types import Err  # noqa: E402

from smsgate_runtime import core, sandbox, warmup  # noqa: E402

sandbox.install()
warmup.run()

_load = core.load


class WitWorld(wit_world.WitWorld):
    def load(self, id, name, source):
        error = _load(id, name, source)
        if error is not None:
            raise Err(error)

    # The hot exports: core's functions themselves (no method frame in between).
    intercept = staticmethod(core.intercept)
    filter = staticmethod(core.filter)
