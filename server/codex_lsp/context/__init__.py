"""What the model is told: the conversation (`history`), the instructions around it
(`instructions`), project instructions (`agents_md`), the environment context (`environment`),
the per-turn context items (`turn_context`) and compaction (`compaction`, `summarize`). Plain
data and functions, no JSON-RPC.
"""
