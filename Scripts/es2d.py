"""ES2D scan orders (SPEC §6.3), shared by the reference scripts; same rule as ES2D.scanOrder in Swift."""


def scan_order(k, g):
    """Grid positions (row-major indices) of stride-2 sub-grid k of a g×g grid, in k's scan order:
    0 offset (0,0) row-major; 1 (0,1) column-major; 2 (1,0) row-major reversed; 3 (1,1) column-major reversed."""
    oy, ox = [(0, 0), (0, 1), (1, 0), (1, 1)][k]
    half = g // 2
    if k % 2 == 0:
        order = [(2 * i + oy) * g + 2 * j + ox for i in range(half) for j in range(half)]
    else:
        order = [(2 * i + oy) * g + 2 * j + ox for j in range(half) for i in range(half)]
    return order[::-1] if k >= 2 else order
