"""Publishing: the UnixFS importer, the IPFS catalog build and the pointer file writer."""
