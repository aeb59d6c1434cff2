from .backbones import *  # noqa: F401,F403
from .bbox_heads import *  # noqa: F401,F403
from .detectors import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .roi_heads import *  # noqa: F401,F403
from .scm import *  # noqa: F401,F403
from .test_time_augs import *  # noqa: F401,F403
from .utils import *  # noqa: F401,F403
