"""virtmodel: executable models of KVM I/O virtualization (emulated devices vs virtio)."""

__version__ = "0.1.0"
