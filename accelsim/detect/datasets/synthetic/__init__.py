"""Procedural street scenes with pedestrians: the embedded default dataset.

Every frame is a 640x480 RGB street scene seen from a car, as in Caltech Pedestrian: a road and
pavements on a ground plane in perspective, building facades with windows and shop fronts, sky,
parked cars, street furniture, and 0-6 pedestrians with exact boxes.

What a frame is made of
-----------------------
A frame is drawn in two steps from two independent random streams of one
``numpy.random.SeedSequence([seed, split_code, index])``:

1. the *layout* (camera, street, every object's position, size, pose and colours) from the first
   stream; the annotations follow from the layout alone, by rasterising silhouettes, so
   ``Frame.objects`` costs a few milliseconds and no pixels;
2. the *pixels* (textures, lighting, noise) from the second stream, only when ``Frame.image()`` is
   called.

Frame ``i`` of ``(seed, split)`` is therefore a pure function of ``(seed, split, i)``; splits use
different split codes (``train`` 1, ``val`` 2, ``test`` 3), so they never share a frame. The
order of the draws in each stream is part of every frame's identity: a draw added, removed or
moved changes the frames (``tests/test_synthetic_pinned.py`` pins a spread of them).

Distractors that look like pedestrians to a detector are part of every scene: lamp posts, sign
posts, tree trunks, bollards, fire hydrants, bins, A-frame shop signs, mannequins (in shop windows
and outdoors) and person-sized vertical blobs, at the same scales as the people.

Conditions
----------
Every frame is tagged with its conditions (``Frame.conditions``): ``lighting`` (sun, overcast, dim),
``haze`` (clear, hazy), ``blur`` (sharp, blurred), ``noise`` (clean, noisy) and ``crowding`` (empty,
sparse, crowded), read from what the layout stream draws, so tagging changes no frame.
``CONDITIONS`` lists them; ``conditions`` says how each is decided and how often each value occurs.
``SyntheticScenes.where(lighting="dim")`` (``--dataset synthetic:0:lighting=dim``) holds only the
frames that meet every condition given, with their own frame ids.

Modules
-------
- ``dataset``: the public API (``SyntheticScenes``, ``SyntheticSubset``, ``render_scene``,
  ``scene_annotations``);
- ``conditions``: the conditions of a frame (``CONDITIONS``), and restrictions to them;
- ``scene``: what a scene is (frame size, camera, street, items, groups, layout);
- ``street``: the camera, the street and its facades, the light and the sensor, sampled;
- ``layout``: where pedestrians, furniture, distractors and cars stand (the geometry of people);
- ``figures``: pedestrians and mannequins (poses, primitives, colours);
- ``props``: street furniture, distractors and cars;
- ``palette``: colour tables and the random draws that pick from them;
- ``annotations``: boxes, labels and visible fractions from a layout (the annotation rules);
- ``background``, ``rendering``: the pixels; ``raster``, ``textures``: primitives and fixed fields.
"""

from accelsim.detect.datasets.synthetic.conditions import CONDITIONS
from accelsim.detect.datasets.synthetic.dataset import (SPLIT_CODES, SyntheticScenes, SyntheticSubset, render_scene,
                                                        scene_annotations)
from accelsim.detect.datasets.synthetic.scene import HEIGHT, WIDTH

__all__ = ["SyntheticScenes", "SyntheticSubset", "CONDITIONS", "render_scene", "scene_annotations", "SPLIT_CODES",
           "WIDTH", "HEIGHT"]
