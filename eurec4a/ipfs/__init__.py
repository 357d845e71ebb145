"""IPFS: CIDs, codecs, CAR, the UnixFS reader, gateways and the verified ``ipfs://`` filesystem."""
