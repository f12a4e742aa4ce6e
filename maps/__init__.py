"""Interactive maps (folium/Leaflet) and map pages."""
