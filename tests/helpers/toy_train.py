"""``train.py`` with the toy interpreter registered: one registry line, nothing else changed.

python tests/helpers/toy_train.py -m debug=tiny +interpret=toy ...
"""

import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # tests.helpers.toy_interpreter, as the registry's paths name it

from radiogenomics import interpreters  # noqa: E402
from tests.helpers.toy_interpreter import TOY  # noqa: E402

interpreters.INTERPRETERS = (*interpreters.INTERPRETERS, TOY)  # the registry line

sys.argv[0] = str(ROOT / "train.py")
runpy.run_path(str(ROOT / "train.py"), run_name="__main__")
