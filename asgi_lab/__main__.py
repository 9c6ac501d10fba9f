from asgi_lab.cli import main

raise SystemExit(main())
