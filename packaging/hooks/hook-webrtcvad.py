"""Replaces the contrib hook, which wants the metadata of `webrtcvad`; Sori installs `webrtcvad-wheels`."""

from PyInstaller.utils.hooks import copy_metadata

datas = copy_metadata("webrtcvad-wheels")
