"""The models both web apps use and that use neither: relevance ranking and its background
queue, SAFE's phases and the stopping figures, theme suggestions, the kind of a work, and the
simulations that measure them (``evidence simulate``, ``evidence simulate-themes``).

The screening app (evidence.screening) runs them while reviewers work; the published site
(evidence.publish) describes them on its method page. Nothing here imports either app.
"""
