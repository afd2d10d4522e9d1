"""Stand-in for NVIDIA Dynamo (ai-dynamo/dynamo) on the `dyn` testbed: no GPUs, no weights.

The components behave like the real ones at the process and network level (each release's captured
argparse tables, registration names, etcd/NATS needs, HTTP frontend, multi-node rendezvous, signals),
so the sbatch scripts rendered by `dyn` can be run for real on the Slurm testbed.
The Dynamo release impersonated: DYN_STANDIN_VERSION, else the first line of /etc/dynamo-release,
else 1.5.1 (dynamo/_flags.py). See testbed/README.md.
"""

__version__ = "standin-1"
