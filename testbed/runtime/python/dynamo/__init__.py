"""Stand-in for NVIDIA Dynamo (ai-dynamo/dynamo) on the `dyn` testbed: no GPUs, no weights.

The components behave like the real ones at the process and network level (command-line flags per
Dynamo release, etcd registration, NATS connection, HTTP frontend, multi-node rendezvous, signals),
so the sbatch scripts rendered by `dyn` can be run for real on the Slurm testbed.
The Dynamo release impersonated comes from DYN_STANDIN_VERSION (default 1.1.0; `dynamo serve`
defaults to 0.3.2). See testbed/README.md.
"""

__version__ = "standin-1"
