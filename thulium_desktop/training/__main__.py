"""`python -m thulium_desktop.training --model attention|ctc --minutes N --seed S --out DIR`."""

import sys

from thulium_desktop.training.train import main

sys.exit(main())
