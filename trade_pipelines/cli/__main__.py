import sys

from trade_pipelines.cli import main

sys.exit(main())
