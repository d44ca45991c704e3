"""Tethys documents (the detection and effort database of NOAA's archives and PAMGuard's
Tethys module, namespace ``http://tethys.sdsu.edu/schema/1.0``): a Deployment document from
the deployment's ``site:`` section and its recordings, and a Detections document per
stretch of continuous recording, whose ``Effort`` says when the detector listened and for
which species (ITIS taxonomic serial numbers, from the model card's ``species:``), and whose
``OnEffort`` holds the detections.

Written with the standard library (:mod:`edge.tethys.documents`).  ``schema/tethys-subset.xsd``
is this project's transcription of the element structure the Tethys documentation gives for
the elements written here (the schema file itself was not obtainable); tests validate every
document against it.  Nothing is imported here: loading a bundle reads a card's ``species:``
through :mod:`edge.tethys.types` without the XML writer.
"""
