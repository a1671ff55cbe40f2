from losskit.cli import main

raise SystemExit(main())
