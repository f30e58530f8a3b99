go run ./demo -json ../bench/out/demo.json
