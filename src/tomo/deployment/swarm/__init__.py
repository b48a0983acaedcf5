"""Apps on a Docker Swarm: each service of the definition a Swarm service.

An installation on a server whose engine is a Swarm manager (InstallConfig.swarm)
runs as one Swarm service per service of its definition, on an overlay network of
its own where each service answers to its definition's name, as on one host. The
engine does the scheduling, restarts and placement; tomo only says what to run:

- A service with data on the node's disk (a folder tomo made, a path the user
  gave, a local named volume) is pinned to the node tomo reaches (`node.id==`), the
  one where that data is; a service without data goes where the Swarm puts it.
- Ports are published in host mode (the task's own node binds them) and names
  resolve by DNS round robin (`--endpoint-mode dnsrr`): the routing mesh and
  virtual IPs need IPVS, which not every kernel has. Host mode binds every address
  of the node: Swarm cannot publish on one address only.
- What a Swarm service cannot be (privileged, devices, GPUs, another namespace's
  network, pid or ipc, security options, one-shot steps, hook scripts) is refused
  before anything is made, each with its service's name.

Status comes from the services' tasks (`running n/m`, the newest task's error);
stop and start scale to 0 and back; restart is a forced update.
"""
