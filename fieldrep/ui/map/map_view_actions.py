"""The Map page's detailed tiles (an MBTiles file or a cached tile server) and its PNG/PDF export.
A mixin of :class:`~fieldrep.ui.map.map_page.MapPage`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QFileDialog

from fieldrep.services.map.data import COLOR_BY_LABELS
from fieldrep.store.errors import StoreError, ValidationError
from fieldrep.ui.map.map_actions_base import MapActionsBase
from fieldrep.ui.tasks import Task


class ViewActionsMixin(MapActionsBase):
    """Needs the attributes below (and :class:`MapActionsBase`'s), which :class:`MapPage` creates."""

    tile_source: Any
    color_by: str

    def _on_open_mbtiles(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self._widget(), "Open offline map", "", "MBTiles (*.mbtiles);;All files (*)"
        )
        if path:
            self.open_offline_map(Path(path))

    def open_offline_map(self, path: Path) -> bool:
        """Show an MBTiles file's tiles under the accounts; a file we cannot use is explained."""
        from fieldrep.geo.tiles import MBTiles, TileError
        from fieldrep.ui.map.tile_layer import tile_drawer

        try:
            source = MBTiles(path)
        except TileError as exc:
            self.say(f"That map cannot be opened: {exc}.", error=True)
            return False
        self.clear_tiles()
        self.tile_source = source
        self.canvas.set_tiles(tile_drawer(source), source.attribution or path.stem)
        self.say(
            f"Showing {path.name} (zoom {source.min_zoom}-{source.max_zoom}) under the accounts."
        )
        return True

    def _on_use_tile_server(self) -> None:
        from PySide6.QtWidgets import QInputDialog

        url, ok = QInputDialog.getText(
            self._widget(),
            "Tile server",
            "Address with {z}, {x} and {y} (tiles seen are kept for offline use):",
        )
        if not ok or not url.strip():
            return
        agent, ok = QInputDialog.getText(
            self._widget(),
            "Tile server",
            "User-Agent naming your organisation (tile servers require it):",
            text="FieldRep/0.1 (your-company.example)",
        )
        if ok:
            self.use_tile_server(url.strip(), agent.strip())

    def use_tile_server(self, url: str, user_agent: str, cache_path: Path | None = None) -> bool:
        from fieldrep.geo.tiles import TileError, TileServer
        from fieldrep.paths import cache_dir
        from fieldrep.services.map.tile_cache import CappedTileCache, cap_mb
        from fieldrep.ui.map.tile_layer import tile_drawer

        try:
            cache = CappedTileCache.open(
                cache_path or cache_dir() / "tiles.mbtiles",
                max_bytes=cap_mb(self.context.conn) * 1_000_000,
            )
            server = TileServer(url, cache, user_agent=user_agent)
        except TileError as exc:
            self.say(f"That tile server cannot be used: {exc}.", error=True)
            return False
        self.clear_tiles()
        self.tile_source = server
        self.canvas.set_tiles(tile_drawer(server), "Tiles: " + url.split("/")[2])
        self.say("Tiles come from the server while online and from the local copy when offline.")
        return True

    def _on_tile_cache_size(self) -> None:
        from PySide6.QtWidgets import QInputDialog

        from fieldrep.services.map.tile_cache import MIN_CAP_MB, cap_mb

        mb, ok = QInputDialog.getInt(
            self._widget(),
            "Offline tile cache",
            "Keep at most this many MB of tile server tiles on this laptop\n"
            "(the least recently seen places are dropped first):",
            cap_mb(self.context.conn),
            MIN_CAP_MB,
            100_000,
            50,
        )
        if ok:
            self.set_tile_cache_mb(mb)

    def set_tile_cache_mb(self, mb: int) -> Task:
        """Change the cap of the tile server's local copy (applies to the tile server in use);
        a user write, a refused size said on the page."""
        from fieldrep.services.map.tile_cache import set_cap_mb

        return self.runner.write(
            lambda ctx: set_cap_mb(ctx.conn, mb),
            label="Setting the tile cache size",
            on_success=lambda _result: self._tile_cache_capped(mb),
            on_error=lambda error: self.say(str(error), error=True),
        )

    def _tile_cache_capped(self, mb: int) -> None:
        from fieldrep.services.map.tile_cache import CappedTileCache

        cache = getattr(self.tile_source, "cache", None)
        if isinstance(cache, CappedTileCache):
            cache.max_bytes = mb * 1_000_000
        self.say(f"The offline tile cache keeps at most {mb:,} MB.")

    def clear_tiles(self) -> None:
        source, self.tile_source = self.tile_source, None
        self.canvas.set_tiles(None)
        if source is not None:
            source.close()

    def _on_canvas_scene_updated(self) -> None:
        error = getattr(self.tile_source, "last_error", None)
        if error:
            self.tile_source.last_error = None  # type: ignore[union-attr]
            self.say(
                f"Some map tiles are missing: {error}. The accounts are all shown.", error=True
            )

    # -- export ------------------------------------------------------------------------------------

    def _on_export_clicked(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self._widget(), "Export the map view", "map.png", "PNG (*.png);;PDF (*.pdf)"
        )
        if path:
            self.export_view(Path(path))

    def export_view(self, path: Path) -> None:
        from fieldrep.ui.map.map_export import MapExport, write

        if self.bundle is None:
            return
        acc = self.bundle.accounts
        w, h = max(self.canvas.width(), 800), max(self.canvas.height(), 600)
        try:
            write(
                MapExport(
                    acc,
                    self.bundle.territories,
                    self.bundle.basemap,
                    self.color_by,
                    title=f"Accounts by {COLOR_BY_LABELS[self.color_by].lower()}",
                    view=(self.canvas.cx, self.canvas.cy, self.canvas.zoom),
                    cluster=self.canvas.cluster,
                ),
                path,
                (w, h),
            )
        except (OSError, ValueError, StoreError, ValidationError) as exc:
            self.say(f"The map could not be saved: {exc}", error=True)
            return
        self.say(f"Map saved to {path}.")
