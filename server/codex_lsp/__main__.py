from codex_lsp.cli import main

raise SystemExit(main())
