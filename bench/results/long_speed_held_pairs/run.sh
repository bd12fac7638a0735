# from the repository root; the code before: git worktree add /tmp/before 4b056c5 (drawn anchor)
source .venv/bin/activate
P="a large red circle bouncing and a small blue square moving left on a black background"
mkdir -p bench/results/long_speed_held_pairs
for s in 1 2 3 4; do
  for side in before after; do
    if [ $side = before ]; then export PYTHONPATH=/tmp/before; else unset PYTHONPATH; fi
    python bench/long_speed.py --seconds 60 --repeats 1 --first-seed $s --prompts "$P" --out bench/results/long_speed_held_pairs/${side}_seed$s > bench/results/long_speed_held_pairs/${side}_seed$s.log 2>&1
    echo $side $s $(tail -1 bench/results/long_speed_held_pairs/${side}_seed$s.md)
  done
done
