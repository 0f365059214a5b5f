"""The estimate: options, physics (memory, speed, cost), scenario resolution, estimate, plan.

Pure numpy; never imports click, openpyxl or xlwings, nor any surface (cli, excel, workbook, batch).
"""
