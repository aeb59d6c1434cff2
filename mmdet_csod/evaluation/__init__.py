from .metrics import *  # noqa: F401,F403
from .stage_diagnostics import StageDiagnostics, load_full_gt  # noqa: F401
